"""What a stored accessibility tree may hold: one pure rule, :func:`bound_tree`.

A source (:mod:`workprint.capture.a11y_tree`) reads the tree of the window in front and
marks the nodes it saw showing on screen; the safeguard gate passes every tree through
:func:`bound_tree` before storage, with its title redactor for the names:

* showing nodes only (a node not marked :data:`SHOWING` is dropped with all below it);
* a password field (role ``password text`` or the ``password`` state) keeps its role,
  states and box but no name, and nothing below it is kept; so does a web document inside
  another (an iframe: it may show another site);
* the kept states (:data:`~workprint.events.A11Y_TREE_STATES`), names redacted and cut to
  :data:`~workprint.events.ELEMENT_NAME_MAX`;
* at most ``max_nodes`` nodes, taken breadth first (the window's structure before its
  details), ``max_depth`` levels below the root and ``max_bytes`` of compact JSON;
  ``truncated`` says whether the bounds cut anything (here, or where the source stopped
  reading: a node marked :data:`CUT`).

The bounds' defaults and limits are the policy's (:mod:`.model`, ``[capture]``).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, replace
from typing import Callable

from ..events import A11Y_TREE_STATES, ELEMENT_NAME_MAX, A11yNode
from .model import A11Y_MAX_BYTES, A11Y_MAX_DEPTH, A11Y_MAX_NODES

#: the state that marks a node a source saw showing on screen (used for pruning, not kept)
SHOWING = "showing"
#: the state that marks a node whose children a source left unread at its bounds (a cut)
CUT = "cut"
PASSWORD_ROLE = "password text"
#: roles of a web document: one inside another is an embedded frame (an iframe), which may
#: show another site than the page - the scope the gate checked - so it is kept without a
#: name and without anything below it (the UI element of an input there is judged by its
#: frame's URL instead; a tree has no URLs)
DOCUMENT_ROLES = frozenset({"document web", "document frame"})


@dataclass(frozen=True)
class TreeBounds:
    max_nodes: int = A11Y_MAX_NODES
    max_depth: int = A11Y_MAX_DEPTH
    max_bytes: int = A11Y_MAX_BYTES

    @classmethod
    def from_policy(cls, policy) -> "TreeBounds":
        c = policy.capture
        return cls(c.a11y_max_nodes, c.a11y_max_depth, c.a11y_max_bytes)


def is_password(node: A11yNode) -> bool:
    return node.role == PASSWORD_ROLE or "password" in node.states


def _node_cost(node: A11yNode) -> int:
    """Upper bound of the bytes a node adds to the tree's JSON, children aside."""
    own = replace(node, children=()).to_dict()
    return len(json.dumps(own, separators=(",", ":"), ensure_ascii=False).encode()) + len(',"children":[]') + 1


def bound_tree(root: A11yNode, bounds: TreeBounds = TreeBounds(),
               redact: Callable[[str], str] | None = None) -> tuple[A11yNode | None, int, bool]:
    """The tree as it may be stored (see the module doc): ``(root, nodes kept, truncated)``,
    root None when the root itself is not showing. ``redact`` maps each name (the gate's
    title redaction); bytes are counted after it."""
    if SHOWING not in root.states:
        return None, 0, False
    kept: dict[int, list] = {}   # id(raw node) -> [cleaned node fields, kids]
    order: list[tuple[A11yNode, A11yNode | None]] = []
    # (node, parent, depth, inside a web document)
    queue: deque[tuple[A11yNode, A11yNode | None, int, bool]] = deque([(root, None, 0, False)])
    size = 0
    truncated = False
    while queue:
        node, parent, depth, in_doc = queue.popleft()
        closed = is_password(node) or (in_doc and node.role in DOCUMENT_ROLES)
        name = "" if closed or not node.name else node.name[:ELEMENT_NAME_MAX]
        if name and redact is not None:
            name = redact(name)[:ELEMENT_NAME_MAX]
        clean = A11yNode(node.role, name,
                         tuple(s for s in A11Y_TREE_STATES if s in node.states), node.box)
        cost = _node_cost(clean)
        if len(order) >= bounds.max_nodes or size + cost > bounds.max_bytes:
            truncated = True
            break
        size += cost
        kept[id(node)] = [clean, []]
        order.append((node, parent))
        if parent is not None:
            kept[id(parent)][1].append(node)
        if closed:
            continue  # nothing below a password field or an embedded document
        truncated = truncated or CUT in node.states
        kids = [k for k in node.children if SHOWING in k.states]
        if kids and depth >= bounds.max_depth:
            truncated = True
            continue
        in_doc = in_doc or node.role in DOCUMENT_ROLES
        queue.extend((k, node, depth + 1, in_doc) for k in kids)

    def build(raw: A11yNode) -> A11yNode:
        clean, kids = kept[id(raw)]
        return replace(clean, children=tuple(build(k) for k in kids)) if kids else clean

    return build(root), len(order), truncated
