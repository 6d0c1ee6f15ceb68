using Strata.Maintenance;
using Strata.Stores;

namespace Strata.Core.Tests.Maintenance;

public sealed class MirrorOrderTests
{
    /// <summary>A new object kind must be placed in the mirror's order (or excluded on purpose), or mirrors would silently lack it.</summary>
    [Fact]
    public void Every_object_kind_is_either_mirrored_in_order_or_excluded_on_purpose()
    {
        foreach (ObjectKind k in ObjectKinds.All)
        {
            Assert.True(Mirror.Order.Contains(k) ^ Mirror.NotMirrored.Contains(k), $"{k} must be in exactly one of Mirror.Order and Mirror.NotMirrored");
        }
        Assert.Equal(ObjectKind.Config, Mirror.Order[^1]);
        Assert.Equal(ObjectKind.Data, Mirror.Order[0]);
    }
}
