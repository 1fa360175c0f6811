"""A plain Python model as ModelOp's examples write them: score yields the bare probability of
each record (a number, not a dict), as ModelOp's runtime writes whatever score yields."""

THRESHOLD = None


# modelop.init
def begin():
    global THRESHOLD
    THRESHOLD = 0.0  # a real model unpickles its artifact here


# modelop.score
def action(datum):
    yield max(float(datum["score"]), THRESHOLD)
