"""Where task state lives: in memory, or shared in Redis."""
