"""Page layouts: builders of Dash component trees. No callbacks, no domain logic."""
