"""Rotation and frame maths shared by training and device (numpy only)."""
