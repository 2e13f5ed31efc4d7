"""What judges generated digits.

classifier  the small CNN that judges generated digits, and its training loop
metrics     class coverage, confidence and classifier Fréchet distance of samples
"""
