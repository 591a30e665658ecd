"""codesign: a GNN + text recommender from quantization-aware Keras to FPGA kernels."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF C++ start-up noise (cuDNN, CUDA)

__version__ = "0.1.0"
