"""Checking derivatives: numeric reverse mode (``backprop``), a three-way comparison
report (``check_grad``) and the backward pass shown step by step (``explain``)."""
