"""HTTP layer: controllers, form structs, rendering and the security checks around them."""
