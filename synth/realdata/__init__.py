"""Real images with exact masks, used to train learned generators and to score synthetic datasets against."""
