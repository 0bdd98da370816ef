"""What modelmon keeps about people, for how long, and how it forgets (docs/privacy.md)."""
