"""The head-to-head demo behind ``python -m sksmooth demo``.

Built on the public API alone, as a user would write it: ``run`` trains,
attacks and certifies; ``contenders`` holds the models compared,
``evaluate`` their measurements, ``per_column`` the smoothed model that
noises only the columns a fraudster controls, and ``figure`` the saved
figure.
"""

from .run import run_demo

__all__ = ["run_demo"]
