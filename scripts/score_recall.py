#!/usr/bin/python3
"""score_recall.py: accuracy and mean loss on the answer characters of a recall text, per task.

usage: score_recall.py PER_CHAR_CSV ANSWERS_CSV [--prefix TEXT] [--query-keys]

PER_CHAR_CSV is what `spectral eval --text TEXT --per-char CSV` wrote for the text that
make_recall.py generated (position,character,loss,correct); ANSWERS_CSV is the answers file it
wrote beside that text (position,task,character). Prints a CSV on stdout, one row per task in the
order of first appearance: task,answers,accuracy,mean_loss — accuracy is the fraction of answer
characters that were the model's top prediction, mean_loss their mean loss in nats. --prefix TEXT
puts TEXT (e.g. "attention,1,") in front of every row and prints no header. --query-keys adds, for
each recall task, a task key-D: the key characters of its queries (the character before each
answer), which the pair D characters back or the set of keys still waiting for their query tell."""
import argparse
import csv
import sys


def score(per_char_path, answers_path, query_keys=False):
    """Returns [(task, answers, accuracy, mean_loss)]; raises ValueError if the files disagree."""
    scored = {}
    with open(per_char_path, newline="") as f:
        r = csv.reader(f)
        header = next(r, None)
        if header != ["position", "character", "loss", "correct"]:
            raise ValueError(f"{per_char_path}: expected the header position,character,loss,correct of "
                             f"spectral eval --per-char, got {header}")
        for row in r:
            scored[int(row[0])] = (row[1], float(row[2]), int(row[3]))
    tasks, order = {}, []
    with open(answers_path, newline="") as f:
        r = csv.DictReader(f)
        for row in r:
            pos, task, ch = int(row["position"]), row["task"], row["character"]
            if pos not in scored:
                raise ValueError(f"{answers_path}: answer position {pos} was not scored in {per_char_path}")
            got, loss, correct = scored[pos]
            if got != ch:
                raise ValueError(f"{answers_path}: position {pos} holds {got!r} in {per_char_path}, "
                                 f"the answer is {ch!r} (not the same text?)")
            if task not in tasks:
                order.append(task)
                tasks[task] = []
            tasks[task].append((correct, loss))
            if query_keys and task.startswith("recall-"):
                key_task = "key-" + task[len("recall-"):]
                if pos - 1 not in scored:
                    raise ValueError(f"{answers_path}: the query key before position {pos} was not scored in {per_char_path}")
                if key_task not in tasks:
                    order.append(key_task)
                    tasks[key_task] = []
                _, key_loss, key_correct = scored[pos - 1]
                tasks[key_task].append((key_correct, key_loss))
    return [(t, len(tasks[t]), sum(c for c, _ in tasks[t]) / len(tasks[t]), sum(l for _, l in tasks[t]) / len(tasks[t]))
            for t in order]


def main(argv):
    p = argparse.ArgumentParser(prog="score_recall.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("per_char", metavar="PER_CHAR_CSV")
    p.add_argument("answers", metavar="ANSWERS_CSV")
    p.add_argument("--prefix", help="text in front of every row (then no header)")
    p.add_argument("--query-keys", action="store_true", help="also score the queries' key characters (tasks key-D)")
    a = p.parse_args(argv)
    try:
        rows = score(a.per_char, a.answers, a.query_keys)
    except (OSError, ValueError, KeyError, IndexError) as e:
        print(f"score_recall.py: {e}", file=sys.stderr)
        return 2
    if a.prefix is None:
        print("task,answers,accuracy,mean_loss")
    for task, n, acc, loss in rows:
        print(f"{a.prefix or ''}{task},{n},{acc:.4f},{loss:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
