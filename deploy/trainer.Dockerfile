# The image a training Job runs on a Kubernetes backend (docs/kubernetes.md#training-on-the-cluster): this
# project and its dependencies, run as a non-root user (the Job's pod sets runAsNonRoot). From a checkout:
#   docker build -f deploy/trainer.Dockerfile -t REGISTRY/mlops-console-trainer:TAG .
# then set training_image = "REGISTRY/mlops-console-trainer:TAG". PyPI's torch wheel for Linux carries CUDA
# (GPU nodes, training_gpus > 0); for CPU-only nodes, a smaller image:
#   --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu
FROM python:3.11-slim
ARG TORCH_INDEX=https://pypi.org/simple
WORKDIR /opt/mlops-console
COPY pyproject.toml README.md ./
COPY console/ console/
COPY core/ core/
COPY autofix/ autofix/
COPY screens/ screens/
COPY fixtures/ fixtures/
# (the datasets the demo models train on ship inside scikit-learn: nothing is downloaded at run time;
# pin the rest with `pip install -c constraints.txt .` from your own lock for a reproducible image)
RUN pip install --no-cache-dir --extra-index-url "$TORCH_INDEX" torch==2.13.0 \
    && pip install --no-cache-dir .
USER 10001
# the Job gives the command (python -m core.lifecycle.job …); alone, the image says how it is used
CMD ["python", "-m", "core.lifecycle.job", "--help"]
