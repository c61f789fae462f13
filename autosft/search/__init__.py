"""Search: the space (the only ``trial.suggest_*`` calls), the objective, and the controller."""
