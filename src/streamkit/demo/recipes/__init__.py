"""The gallery's recipes: one router per theme, each a few endpoints that
show one streaming pattern with streamkit's response classes."""
