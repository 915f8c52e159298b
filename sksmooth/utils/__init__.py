"""Shared helpers at the ground floor: validation, feature maps, HTML tables."""
