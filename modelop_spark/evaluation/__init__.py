"""Distributed evaluation: classification, regression, fairness, drift; plots and report."""
