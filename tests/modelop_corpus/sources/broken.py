# modelop.score
def action(datum)
    yield datum
