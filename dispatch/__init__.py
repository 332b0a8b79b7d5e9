"""The dispatch closed loop: recommend, instruct, track, time. No Dash here."""
