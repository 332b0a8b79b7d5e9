"""Eyes on the scene: cameras' streams, the WebRTC gateway that serves them, and who may watch.

- :mod:`video.cameras`: which devices have a picture, their streams and the cameras near a place;
- :mod:`video.janus`: the Janus gateway's configuration, and an embedded one for ``make run``;
- :mod:`video.stamp`: the time drawn into a simulated frame, read back to measure latency;
- :mod:`video.feeds`: simulated cameras (a frame source piped into ``ffmpeg``), started on demand;
- :mod:`video.gate`: the signalling a page may send the gateway, checked and audited per viewer.

Video never passes through the product's Python processes: browsers receive it from Janus over
WebRTC; the dashboard only relays the signalling (a few small JSON requests per view).
"""
