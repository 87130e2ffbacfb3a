import Posix

enum TracktailCommand {
    static func main() {
        StandardStreams.out("tracktail\n")
    }
}
