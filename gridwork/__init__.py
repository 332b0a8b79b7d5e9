"""The grid's side of the loop: tasks the hall passes to grid workers, and their clocks."""
