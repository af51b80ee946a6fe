"""Tests of the packaging: the sdist and wheels, an installed depthcam outside the checkout, deploy/."""
