"""Help-desk pages (one module for now; split by area next)."""
