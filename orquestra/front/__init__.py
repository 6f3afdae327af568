"""A front before several schedulers (one per GPU, on this machine or others).

`orquestra serve --node URL …` answers the same API as one scheduler and places each
request on the node where its model is, or costs least to bring (`orquestra.front.app`).
"""
