"""Drive a real ChromaDB (the pinned chromadb package) for cairn's tests.

Items get explicit 384-d embeddings, so no model is ever downloaded. The
collection is "scripts", or $CHROMA_COLLECTION.

  tool.py make DIR N SEED [DIM]         a collection "scripts" of N items (384-d)
  tool.py change DIR ADD UPDATE DELETE SEED
  tool.py dump DIR                      JSON: count, get() contents, fixed queries
  tool.py writer DIR LOG STOPFILE       add/update/delete until STOPFILE exists,
                                        logging each committed operation
  tool.py ids DIR                       JSON: count, ids, ids with no metadata,
                                        rows of embeddings
"""
import hashlib
import json
import os
import sqlite3
import sys

import numpy as np
import chromadb

DIM = 384
COLLECTION = os.environ.get("CHROMA_COLLECTION", "scripts")


def client(path):
    return chromadb.PersistentClient(path=path)


def vectors(rng, n):
    return rng.random((n, DIM), dtype=np.float32)


def add(col, rng, start, n):
    for s in range(start, start + n, 1000):
        ids = [f"id{i}" for i in range(s, min(start + n, s + 1000))]
        col.add(
            ids=ids,
            embeddings=vectors(rng, len(ids)),
            metadatas=[{"n": int(i[2:]), "v": 0} for i in ids],
            documents=[f"scene {i}: the detective enters" for i in ids],
        )


def make(path, n, seed):
    col = client(path).get_or_create_collection(COLLECTION, embedding_function=None)
    add(col, np.random.default_rng(seed), 0, n)
    print(col.count())


def change(path, n_add, n_update, n_delete, seed):
    rng = np.random.default_rng(seed)
    global DIM
    col = client(path).get_collection(COLLECTION, embedding_function=None)
    first = col.get(limit=1, include=["embeddings"])["embeddings"]
    if len(first):
        DIM = len(first[0])  # the collection's own dimension (make may set another)
    ids = sorted(col.get(include=[])["ids"], key=lambda i: int(i[2:]))
    top = int(ids[-1][2:]) + 1 if ids else 0
    add(col, rng, top, n_add)
    upd = [ids[i] for i in rng.choice(len(ids), n_update, replace=False)] if n_update else []
    if upd:
        col.update(ids=upd, embeddings=vectors(rng, len(upd)), metadatas=[{"n": int(i[2:]), "v": 1} for i in upd])
    rest = sorted(set(ids) - set(upd))
    dele = [rest[i] for i in rng.choice(len(rest), n_delete, replace=False)] if n_delete else []
    if dele:
        col.delete(ids=dele)
    print(col.count())


def dump(path):
    col = client(path).get_collection(COLLECTION, embedding_function=None)
    got = col.get(include=["metadatas", "documents", "embeddings"])
    order = sorted(range(len(got["ids"])), key=lambda k: got["ids"][k])
    h = hashlib.sha256()
    for k in order:
        h.update(got["ids"][k].encode())
        h.update(np.asarray(got["embeddings"][k], dtype=np.float32).tobytes())
    rng = np.random.default_rng(12345)
    queries = col.query(query_embeddings=vectors(rng, 8), n_results=10, include=["distances"])
    print(json.dumps({
        "count": col.count(),
        "ids": [got["ids"][k] for k in order],
        "metadatas": [got["metadatas"][k] for k in order],
        "documents": [got["documents"][k] for k in order],
        "embeddings_sha256": h.hexdigest(),
        "query_ids": queries["ids"],
        "query_distances": [[round(float(d), 4) for d in row] for row in queries["distances"]],
    }, sort_keys=True))


def writer(path, log, stop):
    """Each line of LOG: the operation and its ids, written after it returned."""
    rng = np.random.default_rng(7)
    col = client(path).get_collection(COLLECTION, embedding_function=None)
    live = sorted(col.get(include=[])["ids"], key=lambda i: int(i[2:]))
    top = int(live[-1][2:]) + 1 if live else 0
    with open(log, "w") as out:
        step = 0
        while not os.path.exists(stop):
            step += 1
            kind = ["add", "add", "update", "delete"][step % 4]
            if kind == "add" or len(live) < 100:
                ids = [f"id{i}" for i in range(top, top + 100)]
                top += 100
                col.add(ids=ids, embeddings=vectors(rng, 100), metadatas=[{"n": int(i[2:]), "v": 0} for i in ids],
                        documents=[f"scene {i}" for i in ids])
                live.extend(ids)
                kind = "add"
            elif kind == "update":
                ids = [live[i] for i in rng.choice(len(live), 50, replace=False)]
                col.update(ids=ids, embeddings=vectors(rng, 50), metadatas=[{"n": int(i[2:]), "v": step} for i in ids])
            else:
                ids = [live[i] for i in rng.choice(len(live), 30, replace=False)]
                col.delete(ids=ids)
                gone = set(ids)
                live = [i for i in live if i not in gone]
            out.write(json.dumps({"op": kind, "ids": ids}) + "\n")
            out.flush()


def ids(path):
    col = client(path).get_collection(COLLECTION, embedding_function=None)
    got = col.get(include=["metadatas"])
    no_meta = [i for i, m in zip(got["ids"], got["metadatas"]) if m is None]
    rng = np.random.default_rng(99)
    hits = col.query(query_embeddings=vectors(rng, 4), n_results=10, include=["metadatas"])
    for row in hits["metadatas"]:
        no_meta.extend("query-hit" for m in row if m is None)
    rows = sqlite3.connect(os.path.join(path, "chroma.sqlite3")).execute(
        "SELECT count(*) FROM embeddings e JOIN segments s ON e.segment_id = s.id WHERE s.scope = 'METADATA'"
    ).fetchone()[0]
    print(json.dumps({"count": col.count(), "ids": sorted(got["ids"]), "no_metadata": no_meta, "rows": rows}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "make":
        if len(args) > 3:
            DIM = int(args[3])
        make(args[0], int(args[1]), int(args[2]))
    elif cmd == "change":
        change(args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4]))
    elif cmd == "dump":
        dump(args[0])
    elif cmd == "writer":
        writer(args[0], args[1], args[2])
    elif cmd == "ids":
        ids(args[0])
    else:
        sys.exit(f"unknown command {cmd}")
