using System.Text.Json;
using System.Text.Json.Serialization;

namespace Strata.Cli.Output;

internal static class Format
{
    public static string Bytes(double b)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        int u = 0;
        while (b >= 1024 && u < units.Length - 1)
        {
            b /= 1024;
            u++;
        }
        return u == 0 ? $"{b:0} {units[u]}" : $"{b:0.00} {units[u]}";
    }

    public static string Duration(TimeSpan t) =>
        t.TotalDays >= 1 ? $"{t.TotalDays:0.#} days" : t.TotalHours >= 1 ? $"{t.TotalHours:0.#} hours" : t.TotalMinutes >= 1 ? $"{t.TotalMinutes:0.#} minutes" : $"{t.TotalSeconds:0} seconds";

    public static string Time(long ns) => DateTimeOffset.FromUnixTimeMilliseconds(ns / 1_000_000).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss");

    public static string Mode(Platform.FileKind kind, uint mode)
    {
        char t = kind switch
        {
            Platform.FileKind.Directory => 'd',
            Platform.FileKind.Symlink => 'l',
            Platform.FileKind.CharDevice => 'c',
            Platform.FileKind.BlockDevice => 'b',
            Platform.FileKind.Fifo => 'p',
            Platform.FileKind.Socket => 's',
            _ => '-',
        };
        var s = new char[10];
        s[0] = t;
        string rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++)
        {
            s[i + 1] = (mode & (1u << (8 - i))) != 0 ? rwx[i] : '-';
        }
        return new string(s);
    }

    /// <summary>Writes one JSON object as one line on stdout.</summary>
    public static void JsonLine(Dictionary<string, object?> fields) => Console.Out.WriteLine(JsonSerializer.Serialize(fields, CliJson.Default.DictionaryStringObject));
}

[JsonSourceGenerationOptions(WriteIndented = false, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(Dictionary<string, object?>))]
[JsonSerializable(typeof(List<Dictionary<string, object?>>))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(double))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(DateTimeOffset))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
[JsonSerializable(typeof(Strata.Archiver.FilterOptions))]
internal sealed partial class CliJson : JsonSerializerContext;
