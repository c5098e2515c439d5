"""Training kit of the talkingface GStreamer plugin: data, models, export, evaluation."""
