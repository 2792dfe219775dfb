"""trtrl's reference models: float RTRL, TRTRL and SnAp-1, the bit-accurate fixed-point
TRTRL, tasks and case files."""
