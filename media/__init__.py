"""Evidence photos: checked and cleaned on arrival (photos.py), kept by content hash (store.py)."""
