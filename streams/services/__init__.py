"""The processes besides the worker, one module each: the trainer (retraining requests → new
models), the labeller (human labels), the inference API, the dashboard service and the demo."""
