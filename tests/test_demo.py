from surrogate import demo


def test_demo_trains_real_networks():
    archs = demo.SPACE.sample(4, 0)
    table = demo.build_table(progress=False, archs=archs)
    assert table.space == "categorical:4x4" and table.n == 4
    valid = table.metric("valid_acc")
    assert ((valid > 20) & (valid <= 100)).all()  # far above chance (10%) on digits
    again = demo.build_table(progress=False, archs=archs[:1])
    assert again.metric("valid_acc")[0] == valid[0]  # seeded per architecture
