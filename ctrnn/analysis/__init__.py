"""Analyses of networks and of simulation results."""
from .fixedpoints import fixed_points, jacobian
from .lyapunov import largest_lyapunov, lyapunov_spectrum
from .meanfield import current_autocorrelation, current_variance
from .spectra import bulk_radius, eigenvalues, outliers, spectral_radius
from .statistics import autocorrelation, participation_ratio, principal_components

__all__ = ["eigenvalues", "spectral_radius", "bulk_radius", "outliers", "lyapunov_spectrum",
           "largest_lyapunov", "current_variance", "current_autocorrelation",
           "autocorrelation", "participation_ratio", "principal_components",
           "fixed_points", "jacobian"]
