"""Integrators as data: Butcher tableaux, the method registry and step-size control."""
from .controllers import PIController
from .explicit import BS3, DOPRI5, EULER, HEUN, METHODS, RK4, Method, get_method
from .tableau import ButcherTableau

__all__ = ["ButcherTableau", "PIController", "Method", "METHODS", "get_method",
           "EULER", "HEUN", "RK4", "DOPRI5", "BS3"]
