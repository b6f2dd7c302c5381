"""TensorFlow Serving behind Seldon Core."""
