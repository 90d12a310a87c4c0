"""Model cards: what a registered model was trained on, how it scores, how well its confidence holds, where it fails."""
