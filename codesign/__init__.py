"""codesign: a GNN + text recommender from quantization-aware Keras to FPGA kernels."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF C++ start-up noise (cuDNN, CUDA)
# da4ml's compiled numba solver in a cache shared by every venv (codesign/rtl/numba_cache.py), read
# by numba when it starts, whichever step imports da4ml first; a user's own numba cache choice wins
# (numba's own locators after ours: code outside site-packages caches as before)
NUMBA_LOCATORS = ",".join(["codesign.rtl.numba_cache.SharedCacheLocator", "UserProvidedCacheLocator",
                           "InTreeCacheLocator", "UserWideCacheLocator", "IPythonCacheLocator", "ZipCacheLocator"])
if not (os.environ.get("NUMBA_CACHE_DIR") or os.environ.get("NUMBA_CACHE_LOCATOR_CLASSES")):
    os.environ["NUMBA_CACHE_LOCATOR_CLASSES"] = NUMBA_LOCATORS

__version__ = "0.1.0"
