"""The recommender's laboratory: tooling that drives the simulator's Spark world to train and judge the
retry recommender (`autofix world`, `autofix evaluate`, bench/). Not part of the runtime pipeline:
autofix/ never imports it, nor the simulator."""
