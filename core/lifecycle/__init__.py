"""The model lifecycle: the demo models and their data, deterministic training, data validation, the
evaluation gate and compression. torch and scikit-learn are imported inside the functions that use them."""
