using System.Globalization;
using System.Xml;
using System.Xml.Linq;

namespace Strata.Stores;

/// <summary>One resource of a PROPFIND answer: its decoded path on the server, whether it is a folder, its size and date.</summary>
internal sealed record DavEntry(string Path, bool IsCollection, long? Length, DateTimeOffset? LastModified)
{
    /// <summary>The last segment of the path ("ab12..." of "/dav/repo/data/ab/ab12...").</summary>
    public string Name
    {
        get
        {
            string p = Path.TrimEnd('/');
            return p[(p.LastIndexOf('/') + 1)..];
        }
    }
}

/// <summary>
/// Reads a WebDAV 207 Multi-Status body (RFC 4918 section 14.16): each &lt;D:response&gt; names a resource by href and
/// carries its properties in the &lt;D:propstat&gt; whose status is 200. Only resourcetype, getcontentlength and
/// getlastmodified are read. DTDs are refused (no entity expansion from a server's answer).
/// </summary>
internal static class DavMultistatus
{
    private static readonly XNamespace Dav = "DAV:";

    /// <summary>The request body that asks for exactly the properties <see cref="Parse"/> reads.</summary>
    public const string PropfindBody =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><D:propfind xmlns:D=\"DAV:\"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/></D:prop></D:propfind>";

    /// <exception cref="FormatException">The body is not a multistatus document.</exception>
    public static List<DavEntry> Parse(Stream body)
    {
        XDocument doc;
        try
        {
            using var reader = XmlReader.Create(body, new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, Async = false });
            doc = XDocument.Load(reader);
        }
        catch (XmlException e)
        {
            throw new FormatException($"the answer is not XML: {e.Message}", e);
        }
        if (doc.Root?.Name != Dav + "multistatus")
        {
            throw new FormatException($"the answer is <{doc.Root?.Name.LocalName}>, not a WebDAV <multistatus>");
        }
        var entries = new List<DavEntry>();
        foreach (XElement response in doc.Root.Elements(Dav + "response"))
        {
            string? href = response.Element(Dav + "href")?.Value.Trim();
            if (string.IsNullOrEmpty(href))
            {
                continue;
            }
            bool collection = false;
            long? length = null;
            DateTimeOffset? modified = null;
            foreach (XElement propstat in response.Elements(Dav + "propstat"))
            {
                if (!IsOk(propstat.Element(Dav + "status")?.Value))
                {
                    continue;
                }
                XElement? prop = propstat.Element(Dav + "prop");
                if (prop is null)
                {
                    continue;
                }
                collection |= prop.Element(Dav + "resourcetype")?.Element(Dav + "collection") is not null;
                if (long.TryParse(prop.Element(Dav + "getcontentlength")?.Value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long n))
                {
                    length = n;
                }
                if (DateTimeOffset.TryParse(prop.Element(Dav + "getlastmodified")?.Value.Trim(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset d))
                {
                    modified = d;
                }
            }
            entries.Add(new DavEntry(PathOf(href), collection, length, modified));
        }
        return entries;
    }

    /// <summary>A status line such as "HTTP/1.1 200 OK".</summary>
    private static bool IsOk(string? status)
    {
        if (status is null)
        {
            return false;
        }
        string[] parts = status.Trim().Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 && parts[1].StartsWith('2');
    }

    /// <summary>An href is an absolute URL or an absolute path, percent-encoded; this is its decoded path.</summary>
    public static string PathOf(string href)
    {
        string path = Uri.TryCreate(href, UriKind.Absolute, out Uri? uri) && uri.Scheme is "http" or "https" ? uri.AbsolutePath : href;
        return Uri.UnescapeDataString(path);
    }
}
