import Foundation

/// Unix users and groups from the system's account database (`getpwuid_r`, `getgrouplist`,
/// `getgrgid_r`): the identity of a unix socket peer, whose uid `SO_PEERCRED` gives.
public enum UnixAccounts {
    /// The identity of `uid`: its user name and the names of its groups (primary and
    /// supplementary). A uid without a passwd entry has no name and no groups.
    public static func identity(uid: UInt32) -> CallerIdentity {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let namePointer = entry.pw_name else {
            return CallerIdentity(uid: uid)
        }
        let name = String(cString: namePointer)
        return CallerIdentity(user: name, uid: uid, groups: Set(groupIDs(user: namePointer, primary: entry.pw_gid).compactMap(groupName)))
    }

    private static func groupIDs(user: UnsafePointer<CChar>, primary: gid_t) -> [gid_t] {
        var count: Int32 = 64
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            let wanted = count
            if getgrouplist(user, primary, &groups, &count) >= 0 { return Array(groups.prefix(Int(count))) }
            // Too small: `count` now says how many there are.
            guard count > wanted, count < 65_536 else { return [primary] }
        }
    }

    /// The name of group `gid`, or `nil` when it has no entry.
    public static func groupName(_ gid: gid_t) -> String? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getgrgid_r(gid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.gr_name else { return nil }
        return String(cString: name)
    }

    /// The id of the group named `name`, or `nil` when there is no such group.
    public static func groupID(_ name: String) -> gid_t? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getgrnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return entry.gr_gid
    }
}
