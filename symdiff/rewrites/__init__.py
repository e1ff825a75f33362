"""Graph rewrites: stable forms before differentiation, textbook simplification
after it, and the canonical form the code generator works on."""
