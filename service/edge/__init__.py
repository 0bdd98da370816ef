"""The edge of the HTTP service: who is calling and how many bytes they may send, judged
before a body byte is read, and JSON documents parsed so that hostile input gets a 4xx."""
