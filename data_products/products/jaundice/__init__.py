"""Neonatal jaundice device evaluation report: TcB device against serum bilirubin (TSB)."""
