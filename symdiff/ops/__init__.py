"""The op set: one class per op (shape rule, VJP, printing, lowering), each
beside its ``sd.NAME`` function."""
