"""ProVconnect sign-in: the two-factor sign-in console of the ProVconnect web console."""
