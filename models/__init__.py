"""brandpulse models: loading, batched scoring, training, evaluation and the registry."""
