#!/usr/bin/python3
"""Writes the small HDF5 files the hdf5 package tests read.

Run from anywhere with Debian's h5py: /usr/bin/python3 make_testfiles.py
The outputs are committed so the Go tests need no Python. Values are
deterministic (no random data); expected values in the Go tests are
recomputed from the same formulas.
"""
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def out(name):
    return os.path.join(HERE, name)


def ramp(shape, dtype, scale=1.0, offset=0.0):
    n = int(np.prod(shape)) if shape else 1
    return (np.arange(n, dtype=np.float64) * scale + offset).astype(dtype).reshape(shape)


def basic():
    with h5py.File(out("basic.h5"), "w", track_order=False) as f:
        # h5py 3 string attributes (variable-length) and numbers.
        f.attrs["keras_version"] = "2.4.0"                       # vlen UTF-8 scalar
        f.attrs["backend"] = b"tensorflow"                        # vlen ASCII scalar
        f.attrs["unicode"] = "\u00b5-law \u2713"                  # non-ASCII UTF-8
        f.attrs["str_list"] = ["dense", "conv2d_1", "batch_normalization"]
        f.attrs["fixed_list"] = np.array([b"alpha", b"be", b"gamma_long"], dtype="S")
        f.attrs["fixed_scalar"] = np.bytes_(b"fixed scalar")
        f.attrs["empty_list"] = []                                # float64 (0,)
        f.attrs["int_scalar"] = np.int32(-7)
        f.attrs["float_scalar"] = 0.25
        f.attrs["int64_array"] = np.array([1, -2, 3, 1 << 40], dtype=np.int64)
        f.attrs["uint8_array"] = np.array([0, 200, 255], dtype=np.uint8)
        f.attrs["float32_array"] = np.array([1.5, -2.25], dtype=np.float32)
        f.attrs["be_int16"] = np.array([-300, 300], dtype=">i2")
        f.attrs["flag"] = True                                    # enum over int8

        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([b"dense", b"q_conv2d"], dtype="S")
        d = mw.create_group("dense")
        d.attrs["weight_names"] = ["dense/kernel:0", "dense/bias:0"]
        d.create_dataset("dense/kernel:0", data=ramp((3, 4), np.float32, 0.5, -1))
        d.create_dataset("dense/bias:0", data=ramp((4,), np.float32, 1, 10))
        q = mw.create_group("q_conv2d")
        q.attrs["weight_names"] = []
        f["link_to_dense"] = h5py.SoftLink("/model_weights/dense")
        f["dangling"] = h5py.SoftLink("/no/such/object")

        # Element types, both byte orders.
        t = f.create_group("types")
        for name, dt in [("f32", "<f4"), ("f64", "<f8"), ("f16", "<f2"),
                         ("i8", "i1"), ("i16", "<i2"), ("i32", "<i4"), ("i64", "<i8"),
                         ("u8", "u1"), ("u16", "<u2"), ("u32", "<u4"), ("u64", "<u8"),
                         ("be_f32", ">f4"), ("be_f64", ">f8"), ("be_f16", ">f2"),
                         ("be_i32", ">i4"), ("be_u16", ">u2"), ("be_i64", ">i8")]:
            signed = dt[-2] in "fi"
            scale = 0.75 if "f" in dt else 1.0
            off = -5.0 if signed else 0.0
            ds = t.create_dataset(name, data=ramp((2, 5), dt, scale, off))
            ds.attrs["dtype"] = dt
        t.create_dataset("scalar", data=np.float64(3.25))
        t.create_dataset("empty", data=np.zeros((0,), dtype=np.float32))
        t.create_dataset("empty2d", data=np.zeros((3, 0), dtype=np.float32))

        # Layouts.
        lay = f.create_group("layouts")
        lay.create_dataset("contiguous", data=ramp((4, 3), np.float32, 1.0, 0.0))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        dcpl.set_obj_track_times(False)  # keeps the output byte-identical across runs
        space = h5py.h5s.create_simple((2, 3))
        dsid = h5py.h5d.create(lay.id, b"compact", h5py.h5t.IEEE_F64LE, space, dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, ramp((2, 3), np.float64, 1.5, 1.0))
        lay.create_dataset("gzip_shuffle_fletcher", data=ramp((37, 23), np.float32, 0.125, -50),
                           chunks=(8, 10), compression="gzip", compression_opts=6,
                           shuffle=True, fletcher32=True)
        lay.create_dataset("gzip_i16", data=ramp((5, 7, 3), np.int16, 3, -100),
                           chunks=(2, 3, 3), compression="gzip")
        lay.create_dataset("shuffle_be_f64", data=ramp((10,), ">f8", -0.5, 1),
                           chunks=(4,), shuffle=True)
        lay.create_dataset("fletcher_only", data=ramp((9,), np.float32, 2, 0),
                           chunks=(4,), fletcher32=True)
        part = lay.create_dataset("chunked_partial", shape=(6, 6), dtype=np.float32,
                                  chunks=(3, 3), fillvalue=-1.5)
        part[0:3, 0:3] = ramp((3, 3), np.float32, 1, 1)            # only one chunk written
        lay.create_dataset("unallocated", shape=(2, 3), dtype=np.float32, fillvalue=3.5)
        lay.create_dataset("chunked_unwritten", shape=(3, 4), dtype=np.float64, chunks=(2, 2),
                           compression="gzip", fillvalue=-0.5)
        lay.create_dataset("unallocated_zero", shape=(4,), dtype=np.int32)
        lay.create_dataset("gzip_f16", data=ramp((11,), np.float16, 0.5, -2),
                           chunks=(4,), compression="gzip")

        # Enough attributes added after creation to force continuation blocks.
        g = f.create_group("many_attrs")
        g.create_dataset("x", data=np.arange(3, dtype=np.float32))
        for i in range(40):
            g.attrs["attr_%02d" % i] = "value number %d" % i


def big_group():
    with h5py.File(out("big_group.h5"), "w") as f:
        g = f.create_group("layers")
        # Spans several global heap collections (4 KiB each by default).
        g.attrs["names"] = ["layer_%03d_with_a_longer_name" % i for i in range(320)]
        for i in range(320):
            if i % 2 == 0:
                g.create_group("layer_%03d" % i).attrs["index"] = i
            else:
                g.create_dataset("layer_%03d" % i, data=np.array([i], dtype=np.float32))


def h5py2_style():
    # Keras <= 2.3 with h5py 2 stored every string as a fixed-length 'S' array/scalar.
    with h5py.File(out("h5py2_style.h5"), "w") as f:
        f.attrs["keras_version"] = np.bytes_(b"2.2.4")
        f.attrs["model_config"] = np.bytes_(b'{"class_name": "Sequential", "config": {"name": "m"}}')
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([b"dense_1", b"activation_1"], dtype="S")
        g = mw.create_group("dense_1")
        g.attrs["weight_names"] = np.array([b"dense_1/kernel:0", b"dense_1/bias:0"], dtype="S")
        g.create_dataset("dense_1/kernel:0", data=ramp((2, 2), np.float32, 1, 0))
        g.create_dataset("dense_1/bias:0", data=ramp((2,), np.float32, 1, 0))
        a = mw.create_group("activation_1")
        a.attrs["weight_names"] = np.array([], dtype="S1")


def latest():
    with h5py.File(out("latest.h5"), "w", libver="latest") as f:
        f.create_dataset("x", data=np.arange(3, dtype=np.float32), track_times=False)


def track_order():
    # Superblock 0 but version-2 object headers: must be refused clearly.
    with h5py.File(out("track_order.h5"), "w", track_order=True) as f:
        f.create_group("g")


def userblock():
    # A user block moves the superblock to offset 512 and sets the base address.
    with h5py.File(out("userblock.h5"), "w", userblock_size=512) as f:
        f.attrs["name"] = "with user block"
        f.create_dataset("x", data=ramp((5,), np.float64, 1, 1))


def small():
    # A compact seed for the fuzzer: every structure in about 4 KiB.
    with h5py.File(out("small.h5"), "w") as f:
        f.attrs["s"] = "vlen"
        f.attrs["l"] = ["a", "bc"]
        f.attrs["x"] = np.array([b"fixed"], dtype="S")
        g = f.create_group("g")
        g.create_dataset("c", data=ramp((5, 3), np.float32, 0.5, -1),
                         chunks=(2, 2), compression="gzip", shuffle=True, fletcher32=True)
        g.create_dataset("d", data=ramp((4,), ">i2", 1, -2))


def manifest():
    """Records shape and sum of every dataset in the shared model files, so
    the Go tests can check values read from them against h5py."""
    import glob
    import hashlib
    import json
    root = "/work/shared/models"
    result = {}
    import io
    import zipfile
    paths = sorted(glob.glob(root + "/**/*.h5", recursive=True))
    paths += sorted(glob.glob(root + "/**/*.keras", recursive=True))
    for path in paths:
        entry = {"datasets": {}, "strings": {}}
        src = path
        if path.endswith(".keras"):  # Keras 3: the weights are a member of a zip
            src = io.BytesIO(zipfile.ZipFile(path).read("model.weights.h5"))
        with h5py.File(src, "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    v = obj[()].astype(np.float64)
                    entry["datasets"]["/" + name] = [list(obj.shape), float(v.sum()),
                                                     float(np.abs(v).sum())]
            f.visititems(visit)
            for key in ("model_config", "keras_version", "backend"):
                if key in f.attrs:
                    v = f.attrs[key]
                    v = v if isinstance(v, bytes) else str(v).encode()
                    # A digest, not the text: the model files stay out of the repo.
                    entry["strings"][key] = [len(v), hashlib.sha256(v).hexdigest()]
        result[os.path.relpath(path, root)] = entry
    with open(out("models_expected.json"), "w") as fh:
        json.dump(result, fh, indent=1, sort_keys=True)


def bomb():
    """A small file whose datasets cost far more than its size: two gzip
    datasets of 128 MiB each (the reported 290 KB weights file, in little)
    and one declaring 4 TiB without storing any chunk."""
    with h5py.File(out("bomb.h5"), "w") as f:
        ones = np.ones(32 << 20, dtype=np.float32)
        for name in ("a", "b"):
            f.create_dataset(name, data=ones, chunks=(1 << 20,), compression="gzip", compression_opts=9)
        f.create_dataset("declared", shape=(1 << 28, 1 << 12), dtype=np.float32, chunks=(1, 1 << 12))


if __name__ == "__main__":
    small()
    if os.path.isdir("/work/shared/models"):
        manifest()
    basic()
    big_group()
    h5py2_style()
    latest()
    track_order()
    userblock()
    bomb()
