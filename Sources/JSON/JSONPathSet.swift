/// The paths a mapping reads from every line, compiled together so that each distinct prefix is
/// resolved at most once per line: `user.id` and `user.email` share the step `user`, and a path
/// used by several templates is one entry. Built once (at configuration time); per line, a
/// `JSONPathCache` remembers what each step resolved to.
///
/// | call | does |
/// | --- | --- |
/// | `add(path)` | returns a handle for the path's last step, adding only steps not seen before |
/// | `cache.reset(for:)` | forgets the previous line (O(1): a generation counter) |
/// | `doc.resolve(handle, in:cache:)` | the node, or nil; each step is looked up once per line |
public struct JSONPathSet: Sendable {
    /// Step `i` is looked up in the node of step `parents[i]` (-1: the root).
    var parents: [Int32] = []
    var steps: [JSONPath.Step] = []

    public init() {}

    /// Distinct steps held.
    public var count: Int { steps.count }

    /// The handle of `path` (-1, the root, for a path without components); an equal path or a
    /// shared prefix reuses the steps already added.
    public mutating func add(_ path: JSONPath) -> Int32 {
        var parent: Int32 = -1
        for step in path.steps {
            if let i = steps.indices.first(where: { parents[$0] == parent && steps[$0].key == step.key }) {
                parent = Int32(i)
            } else {
                parents.append(parent)
                steps.append(step)
                parent = Int32(steps.count - 1)
            }
        }
        return parent
    }
}

/// What the steps of a `JSONPathSet` resolved to in the current line. Each slot holds the
/// generation it was filled in (high 32 bits) and the node index + 1 (0: no value), so `reset`
/// only bumps the generation.
public struct JSONPathCache: Sendable {
    var slots: [UInt64] = []
    var generation: UInt32 = 0

    public init() {}

    /// Forgets every resolution: call after each parse, before the first `resolve`.
    public mutating func reset(for set: JSONPathSet) {
        if slots.count < set.count { slots = Array(repeating: 0, count: set.count) }
        generation &+= 1
        if generation == 0 {
            for i in slots.indices { slots[i] = 0 }
            generation = 1
        }
    }
}

extension JSONDocument {
    /// The node at `handle` (from `set.add`), as `lookup` would find it; nil when a step is
    /// missing. Steps already resolved since `cache.reset` are not looked up again.
    public func resolve(_ handle: Int32, in set: JSONPathSet, cache: inout JSONPathCache) -> JSONNode? {
        guard handle >= 0 else { return root }
        let h = Int(handle)
        // Bounds-checked: traps when the cache was not reset for this set.
        let slot = cache.slots[h]
        if slot >> 32 == UInt64(cache.generation) {
            let v = Int(slot & 0xFFFF_FFFF)
            return v == 0 ? nil : JSONNode(v - 1)
        }
        let parent = set.parents[h]
        var found: JSONNode? = nil
        if let from = parent < 0 ? root : resolve(parent, in: set, cache: &cache) {
            found = set.steps.withUnsafeBufferPointer { step(from, $0.baseAddress! + h) }
        }
        cache.slots[h] = UInt64(cache.generation) << 32 | UInt64(found.map { UInt32(truncatingIfNeeded: $0.index) &+ 1 } ?? 0)
        return found
    }
}
