"""ember.optim (in progress)"""
