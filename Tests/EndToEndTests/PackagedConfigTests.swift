import Foundation
import Testing

/// The configuration the Debian package and `make install` put in /etc/tracktail, and the unit
/// that reads it: valid as shipped, mapping what its comments promise, and agreeing with the unit
/// on the credential's name and the configuration's path.
struct PackagedConfigTests {
    let config = Harness.packageRoot.appendingPathComponent("Config/tracktail.toml").path
    let unit = Harness.packageRoot.appendingPathComponent("systemd/tracktail.service").path

    @Test func validAsShipped() throws {
        let r = try Harness.run(["check", "--config", config])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(#"directory = "/var/lib/tracktail""#), "the unit's StateDirectory=tracktail")
        #expect(r.stdout.contains(#"token_credential = "token""#))
    }

    @Test func mapsAnEventAndDropsAPlainLogLine() throws {
        let lines = """
        {"level":"info","event":"signed_up","user":{"id":7},"ts":"2024-10-20T15:51:36.514Z","account":"acme"}
        {"level":"info","msg":"listening on :8080"}

        """
        let r = try Harness.run(["map", "--config", config, "--json"], stdin: lines)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(#""event_name":"signed_up""#))
        #expect(r.stdout.contains(#""user_id":"7""#))
        #expect(r.stdout.contains("not-an-event"))
    }

    @Test func unitAndConfigurationAgree() throws {
        let unitText = try String(contentsOfFile: unit, encoding: .utf8)
        let configText = try String(contentsOfFile: config, encoding: .utf8)
        #expect(unitText.contains("\nLoadCredential=token:/etc/tracktail/token\n"))
        #expect(configText.contains(#"token_credential = "token""#))
        #expect(unitText.contains("\nExecStart=/usr/local/bin/tracktail run --config /etc/tracktail/tracktail.toml\n"),
                "the path make install and make deb rewrite")
        #expect(unitText.contains("\nStateDirectory=tracktail\n"))
    }
}
