"""ember.utils.data (in progress)"""
