"""CPU/GPU baselines of the trained model: TensorFlow (eager, tf.function, XLA), ONNX Runtime,
TFLite int8; verified against the Keras model and the fixed-point reference, then timed."""
